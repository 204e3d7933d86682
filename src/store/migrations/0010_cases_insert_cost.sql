-- The scheduler's two partial indexes, with their status test spelt as equalities joined by OR
-- instead of an IN list. SQLite evaluates an IN list of more than two constants by building a
-- temporary b-tree from the list, and an INSERT or UPDATE of a case evaluates both predicates,
-- so every case written built two b-trees and threw them away: with the IN lists of the
-- CHECK constraints (which the intake applier does not evaluate: the journal writer checks the
-- same sets in C, sqlite_cases.c case_checks) this was about half of the applier's time
-- (bench_sqlite_raw on this schema: 20,000-23,000 rows/s before, 39,000-45,000 after).
-- The scheduler's queries (STORE__CASE_OPEN_COND in sqlite_int.h) spell the same test, so the
-- planner still proves that they imply these predicates.
DROP INDEX cases_due_warn;
CREATE INDEX cases_due_warn ON cases(warn_at)
	WHERE warned = 0 AND (status = 'reported' OR status = 'registered' OR status = 'dispatched'
	                      OR status = 'accepted' OR status = 'handled' OR status = 'verified');
DROP INDEX cases_due_deadline;
CREATE INDEX cases_due_deadline ON cases(deadline)
	WHERE overdue = 0 AND (status = 'reported' OR status = 'registered' OR status = 'dispatched'
	                       OR status = 'accepted' OR status = 'handled' OR status = 'verified');
