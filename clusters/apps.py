from django.apps import AppConfig


class ClustersConfig(AppConfig):
    """Kubernetes clusters that environments deploy to: address, CA and (encrypted) credentials."""

    name = "clusters"
    verbose_name = "Clusters"
