"""HTTP surfaces: the KFP v2beta1 REST API and the Kubernetes-shaped resources API. Handlers
only translate HTTP to service calls and back; the services hold the logic."""
