"""Staff notifications: the outbox (`notifications.outbox`) and the worker
that delivers it (`python -m notifications.worker`)."""
