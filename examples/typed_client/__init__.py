"""A small order-management back end that uses cxplay as a library, typed with ``mypy --strict``.

``tests/test_typing.py`` type-checks this package against the installed cxplay and runs
:func:`typed_client.orders.main`: a thread pool, a reload while serving, a close while
serving, and the error types with their data, as a back-end team would use them.
"""
