"""``runway-img batch``: many prompts, resumable, within a budget, with a contact sheet.

- ``items``: the batch file (plain lines or JSON Lines), the ``--vary`` grid, validation of
  every item before anything is sent, and the key that identifies an item across reruns.
- ``manifest``: the append-only record of what was sent, created, finished; resume state.
- ``budget``: ``--max-credits`` accounting (spent, in flight, the next item's expected cost).
- ``slots``: how many tasks may be in flight, per model and in all.
- ``runner``: creating and following the tasks on threads, and the rules that stop it.
- ``contact_sheet``: ``index.html``, a grid of the results that works offline.
- ``session``: the steps the command runs, from the file to the summary.

Nothing here prints: progress goes to a ``BatchReporter`` (``events``).
"""
