"""Errors raised by the privacy library.

They carry pseudonymous subject ids and counts only, never values, because exception messages
end up in orchestration logs that are not designed to hold personal data (GDPR Art. 5(1)(f)).
"""


class PrivacyError(Exception):
    """Base class of every error raised by :mod:`privacy`."""


class PolicyError(PrivacyError):
    """The policy file cannot be read as a policy: its message names the file, the place and the fix."""


class KeyFileError(PrivacyError):
    """A key file or key variable is missing, malformed or readable by others (Art. 32(1)(a))."""


class WrongMasterKey(PrivacyError):
    """The key store's data keys were wrapped by a different master key."""


class MissingKey(PrivacyError):
    """No data key exists yet for a subject; call ``KeyStore.ensure`` first."""


class KeyShredded(PrivacyError):
    """The subject's data key was destroyed on erasure (Art. 17): its values are gone for good."""

    def __init__(self, subject_ids):
        self.subject_ids = sorted(subject_ids)
        first = self.subject_ids[0] if self.subject_ids else "?"
        super().__init__(
            f"data key of {len(self.subject_ids)} subject(s) was shredded on erasure "
            f"(first: {first}); their encrypted values can no longer be decrypted"
        )


class InvalidCiphertext(PrivacyError):
    """A value failed authentication: wrong subject, table or column, or it was tampered with
    (Art. 32(1)(b), integrity)."""


class AuditTampered(PrivacyError):
    """The audit log does not match its head file; appending would hide the damage (Art. 5(2))."""
