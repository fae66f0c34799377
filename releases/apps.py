from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "releases"
    verbose_name = "Releases"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from clusters.models import Cluster
        from releases.signals import refuse_deleting_a_cluster_in_use

        pre_delete.connect(
            refuse_deleting_a_cluster_in_use, sender=Cluster, dispatch_uid="releases.cluster_in_use"
        )
