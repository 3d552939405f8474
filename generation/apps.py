from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = _("Generation")  # the admin's heading for the app, in the reader's language
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import (
            task_postrun,
            task_prerun,
            worker_process_init,
            worker_process_shutdown,
            worker_shutdown,
        )

        from accounts.signals import user_suspended

        from . import credits, events, store_queue, worker

        # Worker processes: warm the model and heart-beat; harmless in the web process, where they never fire.
        worker_process_init.connect(worker.warm_up, dispatch_uid="generation.warm_up", weak=False)
        # Images already drawn are stored, and their jobs finished, before a pool process (or a solo worker) exits.
        for shutdown in (worker_process_shutdown, worker_shutdown):
            shutdown.connect(store_queue.shutdown_store_queue, dispatch_uid="generation.store_queue", weak=False)
        worker_process_shutdown.connect(events.stop_queue_refresher, dispatch_uid="generation.refresher", weak=False)
        worker_process_shutdown.connect(worker.stop_heartbeat, dispatch_uid="generation.stop_heartbeat", weak=False)
        # A job's database session outlives its task (Celery's fixup would close it before and after each task).
        worker_process_init.connect(
            worker.keep_database_connections, dispatch_uid="generation.keep_database_connections", weak=False
        )
        task_prerun.connect(
            worker.close_database_if_obsolete, dispatch_uid="generation.close_database_if_obsolete", weak=False
        )
        task_prerun.connect(worker.remember_job, dispatch_uid="generation.remember_job", weak=False)
        task_postrun.connect(worker.forget_job, dispatch_uid="generation.forget_job", weak=False)
        user_suspended.connect(credits.cancel_waiting_jobs, dispatch_uid="generation.cancel_waiting_jobs")
