"""Bringing conversations in: ChatGPT data exports and Parlour's own JSON export.

``source`` finds the parts of an upload (a ZIP's members, checked against zip bombs),
``jsonstream`` builds JSON values from a stream under limits, ``chatgpt`` and
``parlour_json`` turn one conversation into :mod:`~parlour.importing.model` values,
``reader`` strings them together in constant memory, and ``jobs`` runs an import in
the background (writing through :mod:`parlour.store.importer`).
"""
