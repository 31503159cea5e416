"""What every stage shares: one TOML reader, one error formatter, one did-you-mean, one base model.

- :mod:`.toml` -- TOML text or file to data plus a :class:`~.toml.LineIndex` of key lines;
- :mod:`.problems` -- pydantic errors to :class:`~cxplay.errors.Problem` lines;
- :mod:`.text` -- did-you-mean suggestions and truncation of echoed values;
- :mod:`.models` -- the frozen, ``extra="forbid"`` base model;
- :mod:`.files` -- reading a user's file as bytes or UTF-8 text, with one-line errors;
- :mod:`.style` -- the one stylesheet (``style.css``) of every page cxplay renders.

Nothing here imports another ``cxplay._*`` package: every stage may import this one.
"""
