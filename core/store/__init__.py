"""The store: every SQL statement of paybonus, in one package.

`Ledger` owns the connection, the transactions and the schema; one repository per aggregate reads and writes its
own tables (`events`, `entitlements`, `dispatches`, `payments`, `audit`, `companies`). The bus speaks to it in a
few verbs: `record_event`, `record_dispatch`, `record_failure`, `store_company`. `LedgerReader` is the read-only
side, backed by a read-only connection, that plugins receive as `paybonus.hooks.LedgerView`.
"""

from .audit_log import GENESIS, AuditEntry, Head
from .entitlements import ENTITLEMENT_COLUMNS, EntitlementRow, recorded_entitlement
from .ledger import DispatchInputs, DispatchRecord, EventRecord, Ledger, PaymentRecord, StaleRead
from .reader import LedgerReader

__all__ = [
    "ENTITLEMENT_COLUMNS",
    "GENESIS",
    "AuditEntry",
    "DispatchInputs",
    "DispatchRecord",
    "EntitlementRow",
    "EventRecord",
    "Head",
    "Ledger",
    "LedgerReader",
    "PaymentRecord",
    "StaleRead",
    "recorded_entitlement",
]
