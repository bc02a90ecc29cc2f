"""The control plane's operations, shared by the REST API, the Python client and the
dashboard. Inputs and outputs are plain dicts in Kubeflow's own JSON shapes (KFP v2beta1
objects, Kubernetes-shaped resources), so every surface shows the same thing."""
