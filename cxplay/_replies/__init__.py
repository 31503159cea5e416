"""render: replies in the customer's language and channel.

- :mod:`.renderer` -- Jinja fragments composed into one reply per language and channel;
- :mod:`.locale` -- language negotiation, money, dates, durations, plurals and nouns;
- :mod:`.address` -- names, vocatives, greetings and sign-offs;
- :mod:`.sms` -- SMS segments (GSM 03.38 or UCS-2);
- :mod:`.filters` -- the Jinja filters and globals built on the modules above;
- :mod:`.compiled` -- fragments' compiled code kept in the user's cache (the CLI).

Name tables (vocatives, noun forms) are data files in ``data/``, shipped with the package.
"""
