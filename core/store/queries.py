"""The canned queries `paybonus browse` offers in datasette (their titles and descriptions: data/ledger.toml).

Named parameters (:employee) become datasette's form fields. They read the views of migration
m005_views_for_humans only.
"""

from __future__ import annotations

CANNED_QUERIES: dict[str, str] = {
    "employee": """SELECT id AS entitlement, company, employee, employee_name, scheme, period_start, period_end,
       entitlement_kind, amount_euros, outstanding_euros, due_date, payment_status
FROM entitlements_in_euros
WHERE employee = :employee OR employee_name LIKE '%' || :employee || '%'
ORDER BY period_start, scheme, id""",
    "explanation": """SELECT section, name, value FROM (
  SELECT 0 AS o, 1 AS p, 'amount' AS section,
         employee || ' ' || COALESCE(employee_name, '') || ', ' || scheme || ' ' || period_start || '..' || period_end
           AS name,
         amount_euros AS value
  FROM entitlements_in_euros WHERE id = :entitlement
  UNION ALL
  SELECT 0, 2, 'due', payment_status, COALESCE(due_date, '-') FROM entitlements_in_euros WHERE id = :entitlement
  UNION ALL
  SELECT 1, 1, 'rules', group_concat(name, ', '), NULL
  FROM explanation_lines WHERE entitlement = :entitlement AND section = 'rule'
  UNION ALL
  SELECT section_order, position, section, name, value
  FROM explanation_lines WHERE entitlement = :entitlement AND section <> 'rule'
) ORDER BY o, p""",
    "due_in_month": """SELECT id AS entitlement, company, employee, employee_name, scheme, amount_euros, outstanding_euros,
       due_date, dsn_block, dsn_code
FROM entitlements_in_euros
WHERE substr(due_date, 1, 7) = :month AND outstanding_cents > 0
ORDER BY company, employee""",
}
