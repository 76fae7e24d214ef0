"""What a run does with each item, given what the manifest says happened to it before.

- never created (or Runway refused the create): create it;
- saved: skip it;
- a task id but no (or not all) files: reattach (wait and download, replacing what an
  interrupted save of the same task left; never create again);
- the create was sent but no id recorded (a ``kill -9`` at that instant, or an answer that
  left it in doubt): unknown, never resent unless ``--resend-unknown``;
- FAILED or CANCELLED: retried only with ``--retry-failed``.

Reattached tasks come first (they are already in flight on Runway's side), then new creates
in the order of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runway_cli.batch.events import ItemStatus
from runway_cli.batch.items import BatchItem
from runway_cli.batch.manifest import ManifestState, Phase
from runway_cli.batch.runner import Job


@dataclass(frozen=True)
class Resumption:
    jobs: list[Job]
    statuses: dict[str, ItemStatus]  # every item, as the run starts

    @property
    def creates(self) -> list[BatchItem]:
        return [job.item for job in self.jobs if job.task_id is None]

    @property
    def reattaches(self) -> int:
        return sum(1 for job in self.jobs if job.task_id is not None)

    def count(self, status: ItemStatus) -> int:
        return sum(1 for s in self.statuses.values() if s is status)


def resume(
    items: Sequence[BatchItem],
    state: ManifestState,
    *,
    retry_failed: bool = False,
    resend_unknown: bool = False,
) -> Resumption:
    reattach: list[Job] = []
    create: list[Job] = []
    statuses: dict[str, ItemStatus] = {}
    for item in items:
        before = state.items.get(item.key)
        phase = before.phase if before is not None else None
        statuses[item.key] = ItemStatus.QUEUED
        if phase is None or phase is Phase.REFUSED:
            create.append(Job(item))
        elif phase is Phase.SAVED:
            statuses[item.key] = ItemStatus.DONE
        elif phase in (Phase.CREATED, Phase.SAVE_FAILED) and before and before.task_id:
            # Its destination may hold its own output already (a kill after the file landed
            # and before the manifest said so): the same task's image, so it may be replaced.
            job = Job(item, before.task_id, before.estimate, force=True)
            reattach.append(job)
        elif phase in (Phase.SENT, Phase.UNKNOWN):
            if resend_unknown:
                create.append(Job(item))
            else:
                statuses[item.key] = ItemStatus.UNKNOWN
        elif retry_failed:
            create.append(Job(item))
        else:
            statuses[item.key] = ItemStatus.FAILED
    return Resumption(reattach + create, statuses)
