-- Cases lists (docs/internals/store.md, "Indexes and the queries that use them"): the overdue
-- filter's partial index gains the overdue column itself. Without it SQLite cannot answer a
-- list from the index alone (the WHERE names a column the index lacks) and read the table row
-- of every overdue candidate: "status=handled channel=hotline overdue" over 1,000,000 cases
-- took 20-60 ms, mostly reading rows that were then thrown away. The index holds only the
-- overdue cases (~3 %), so the extra column costs little.
DROP INDEX cases_overdue;
CREATE INDEX cases_overdue ON cases(reported_at, status, street_code, community_code, unit_code,
                                    category_code, channel, overdue) WHERE overdue = 1;
