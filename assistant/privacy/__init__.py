"""Personal data of residents: the retention purge, and residents' requests to see or erase what is held
(个人信息保护法).

- ``index``: a blind index (keyed HMAC) of the phone and ID numbers residents typed, so their conversations and
  work orders can be found although the stored text is masked and contacts are encrypted;
- ``retention``: what is past the retention settings, the dry-run report and the batched purge, once a day;
- ``requests``: find, export and erase one resident's data, every step audited.
"""

from __future__ import annotations


class PrivacyError(Exception):
    """Base of the package's errors; its message is plain Chinese for the person who typed the input."""


class InvalidLookup(PrivacyError):
    """What was typed is not a phone or ID number the index can look up."""
