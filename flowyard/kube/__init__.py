"""The Kubernetes API as kubectl and the `kubernetes` client speak it: discovery, OpenAPI,
Table printing, Status errors, strategic merge and server-side apply, CustomResourceDefinitions.
Pure functions over objects and the store; the HTTP routes live in api/."""
