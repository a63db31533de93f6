"""``POST /privacy/erasures``: an org's admin erases a data subject (GDPR Art. 17) by destroying the subject's key.

Nothing stored is rewritten: every copy of the subject's personal fields (table, stream, archive, warm tier,
backups) is ciphertext under that key, so from now on each shows ``[erased]`` wherever it is shown, and the
digests and checkpoints over what is stored stay valid. The member leaves the User filter's directory.

The erasure is itself an entry (a SYSTEM_EVENT in the admin's name): when, by whom, the subject's kind and
pseudonym (never its id), and how many entries were sealed under the key. Asked again (or for a subject the
log never held), it records an erasure that covered nothing: a retry after a failure is safe.

A later entry about the same subject is sealed under a new key and readable: erasure is no ban on new records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from activitylog.entry import iso_time
from activitylog.errors import BadRequest, Conflict
from activitylog.scopes import ROUTE_SCOPES, WRITE
from activitylog.subjects import Subject

if TYPE_CHECKING:
    from activitylog.inputs import ErasureRequest
    from activitylog.service import ActivityService, Caller

ROUTE = "POST /privacy/erasures"
KIND_WORDS = {"user": "a team member", "contact": "a contact"}


class Erasures:
    def __init__(self, service: "ActivityService") -> None:
        self.service = service

    def erase(self, caller: "Caller", request: "ErasureRequest") -> dict:
        """Destroy the subject's key in the caller's org, record it, and answer the record."""
        from activitylog.service import Caller

        caller.require(ROUTE_SCOPES[ROUTE])
        subjects = self.service.store.subjects
        if subjects is None:
            raise Conflict(
                "this service stores personal fields as sent (no subject keys): nothing to erase by key", "subject"
            )
        subject = Subject(request.subject.kind, request.subject.id)
        org = caller.org  # the token's: another org's subject of the same id is another key, never touched
        pseudonym = subjects.pseudonym(org, subject)
        # The members directory keeps the member's item: its name is sealed under the destroyed key (the search
        # no longer lists it) and its kinds must stay, as the list's "no such entry" answers rely on them.
        covered = subjects.erase(org, subject)
        recorder = Caller(org, caller.subject, frozenset({WRITE}), name=caller.name)
        entry = self.service.record(
            recorder, _erasure_entry(caller, subject, pseudonym, covered or 0, covered is not None)
        )
        return {
            "id": entry.id,
            "erased_at": iso_time(entry.occurred_at),
            "subject": {"kind": subject.kind, "pseudonym": pseudonym},
            "entries": covered or 0,
            "key_found": covered is not None,
        }


def _erasure_entry(caller: "Caller", subject: Subject, pseudonym: str, entries: int, key_found: bool):
    from pydantic import ValidationError

    from activitylog.inputs import NewEntry

    try:
        return NewEntry.model_validate(
            {
                "type": "SYSTEM_EVENT",
                "status": "SUCCESS",
                "action": "erased",
                "actor": {"kind": "user", "id": caller.subject, "name": caller.name or caller.subject},
                "event": f"Personal data erased · {KIND_WORDS[subject.kind]} · {entries} entries",
                "entity": {"type": "setting", "id": "privacy", "label": "Privacy"},
                "metadata": {
                    "erasure": {
                        "subject_kind": subject.kind,
                        "subject_pseudonym": pseudonym,
                        "entries": entries,
                        "key_found": key_found,
                    }
                },
            }
        )
    except ValidationError:
        raise BadRequest(
            "the token's sub cannot name the actor of the erasure (1-128 letters, digits or _.:@+=/-)", "authorization"
        ) from None
