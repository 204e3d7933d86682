-- Exact list totals without walking (docs/internals/store.md, "Totals"). case_counts holds the
-- number of cases per filter key: "*" (all cases); each equality condition of the case list
-- alone (s= status, st= street, cm= community, u= unit, c= category code, c^ a category
-- prefix of 2, 3 or 5 characters (printable ASCII codes only), h= channel, o= overdue); and
-- these pairs, where walking an index to count is slow because both conditions are broad:
--   status with street, community, unit, c^2, c^3, channel, overdue;
--   street with unit, c^2, c^3, channel, overdue;   community with overdue;
--   unit with c^2, c^3, channel, overdue;   c^2 and c^3 with channel, overdue;   channel with overdue.
-- (STORE__COUNT_PAIRS in sqlite_int.h lists the same pairs for the writer and the reader.)
-- A key is its conditions in that order joined by "|", e.g. "st=440303001|o=1"; NULL codes
-- count as "". Inserts are counted by the store in the same transaction as the rows, summed
-- per batch (sqlite_cases.c, counts_add); updates and deletes by the triggers below (one per
-- condition set, firing only when one of its columns changed), so every path that changes a
-- case keeps the counts exact. The INSERTs below count the cases already stored.
CREATE TABLE case_counts (
    key TEXT PRIMARY KEY,
    n   INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT '*' AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'st=' || coalesce(cases.street_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'cm=' || coalesce(cases.community_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'u=' || coalesce(cases.unit_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c=' || coalesce(cases.category_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 2) AS k FROM cases WHERE length(cases.category_code) >= 2 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 3) AS k FROM cases WHERE length(cases.category_code) >= 3 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 5) AS k FROM cases WHERE length(cases.category_code) >= 5 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'h=' || cases.channel AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'o=' || cases.overdue AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'st=' || coalesce(cases.street_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'cm=' || coalesce(cases.community_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'u=' || coalesce(cases.unit_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'c^' || substr(cases.category_code, 1, 2) AS k FROM cases WHERE length(cases.category_code) >= 2 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'c^' || substr(cases.category_code, 1, 3) AS k FROM cases WHERE length(cases.category_code) >= 3 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'h=' || cases.channel AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 's=' || cases.status || '|' || 'o=' || cases.overdue AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'st=' || coalesce(cases.street_code, '') || '|' || 'u=' || coalesce(cases.unit_code, '') AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'st=' || coalesce(cases.street_code, '') || '|' || 'c^' || substr(cases.category_code, 1, 2) AS k FROM cases WHERE length(cases.category_code) >= 2 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'st=' || coalesce(cases.street_code, '') || '|' || 'c^' || substr(cases.category_code, 1, 3) AS k FROM cases WHERE length(cases.category_code) >= 3 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'st=' || coalesce(cases.street_code, '') || '|' || 'h=' || cases.channel AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'st=' || coalesce(cases.street_code, '') || '|' || 'o=' || cases.overdue AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'cm=' || coalesce(cases.community_code, '') || '|' || 'o=' || cases.overdue AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'u=' || coalesce(cases.unit_code, '') || '|' || 'c^' || substr(cases.category_code, 1, 2) AS k FROM cases WHERE length(cases.category_code) >= 2 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'u=' || coalesce(cases.unit_code, '') || '|' || 'c^' || substr(cases.category_code, 1, 3) AS k FROM cases WHERE length(cases.category_code) >= 3 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'u=' || coalesce(cases.unit_code, '') || '|' || 'h=' || cases.channel AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'u=' || coalesce(cases.unit_code, '') || '|' || 'o=' || cases.overdue AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 2) || '|' || 'h=' || cases.channel AS k FROM cases WHERE length(cases.category_code) >= 2 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 2) || '|' || 'o=' || cases.overdue AS k FROM cases WHERE length(cases.category_code) >= 2 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 3) || '|' || 'h=' || cases.channel AS k FROM cases WHERE length(cases.category_code) >= 3 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'c^' || substr(cases.category_code, 1, 3) || '|' || 'o=' || cases.overdue AS k FROM cases WHERE length(cases.category_code) >= 3 AND cases.category_code NOT GLOB '*[^ -~]*') GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
INSERT INTO case_counts (key, n) SELECT k, count(*) FROM (SELECT 'h=' || cases.channel || '|' || 'o=' || cases.overdue AS k FROM cases) GROUP BY k
    ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
CREATE TRIGGER case_counts_s AFTER UPDATE ON cases WHEN old.status IS NOT new.status BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status AS k, -1 AS d
        UNION ALL SELECT 's=' || new.status, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_st AFTER UPDATE ON cases WHEN old.street_code IS NOT new.street_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'st=' || coalesce(old.street_code, '') AS k, -1 AS d
        UNION ALL SELECT 'st=' || coalesce(new.street_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_cm AFTER UPDATE ON cases WHEN old.community_code IS NOT new.community_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'cm=' || coalesce(old.community_code, '') AS k, -1 AS d
        UNION ALL SELECT 'cm=' || coalesce(new.community_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_u AFTER UPDATE ON cases WHEN old.unit_code IS NOT new.unit_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'u=' || coalesce(old.unit_code, '') AS k, -1 AS d
        UNION ALL SELECT 'u=' || coalesce(new.unit_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_ce AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c=' || coalesce(old.category_code, '') AS k, -1 AS d
        UNION ALL SELECT 'c=' || coalesce(new.category_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c2 AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 2) AS k, -1 AS d WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 2), 1 WHERE length(new.category_code) >= 2 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c3 AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 3) AS k, -1 AS d WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 3), 1 WHERE length(new.category_code) >= 3 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c5 AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 5) AS k, -1 AS d WHERE length(old.category_code) >= 5 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 5), 1 WHERE length(new.category_code) >= 5 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_h AFTER UPDATE ON cases WHEN old.channel IS NOT new.channel BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'h=' || old.channel AS k, -1 AS d
        UNION ALL SELECT 'h=' || new.channel, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_o AFTER UPDATE ON cases WHEN old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'o=' || old.overdue AS k, -1 AS d
        UNION ALL SELECT 'o=' || new.overdue, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_st AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.street_code IS NOT new.street_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'st=' || coalesce(old.street_code, '') AS k, -1 AS d
        UNION ALL SELECT 's=' || new.status || '|' || 'st=' || coalesce(new.street_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_cm AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.community_code IS NOT new.community_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'cm=' || coalesce(old.community_code, '') AS k, -1 AS d
        UNION ALL SELECT 's=' || new.status || '|' || 'cm=' || coalesce(new.community_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_u AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.unit_code IS NOT new.unit_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'u=' || coalesce(old.unit_code, '') AS k, -1 AS d
        UNION ALL SELECT 's=' || new.status || '|' || 'u=' || coalesce(new.unit_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_c2 AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'c^' || substr(old.category_code, 1, 2) AS k, -1 AS d WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 's=' || new.status || '|' || 'c^' || substr(new.category_code, 1, 2), 1 WHERE length(new.category_code) >= 2 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_c3 AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'c^' || substr(old.category_code, 1, 3) AS k, -1 AS d WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 's=' || new.status || '|' || 'c^' || substr(new.category_code, 1, 3), 1 WHERE length(new.category_code) >= 3 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_h AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.channel IS NOT new.channel BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'h=' || old.channel AS k, -1 AS d
        UNION ALL SELECT 's=' || new.status || '|' || 'h=' || new.channel, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_s_o AFTER UPDATE ON cases WHEN old.status IS NOT new.status OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 's=' || old.status || '|' || 'o=' || old.overdue AS k, -1 AS d
        UNION ALL SELECT 's=' || new.status || '|' || 'o=' || new.overdue, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_st_u AFTER UPDATE ON cases WHEN old.street_code IS NOT new.street_code OR old.unit_code IS NOT new.unit_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'u=' || coalesce(old.unit_code, '') AS k, -1 AS d
        UNION ALL SELECT 'st=' || coalesce(new.street_code, '') || '|' || 'u=' || coalesce(new.unit_code, ''), 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_st_c2 AFTER UPDATE ON cases WHEN old.street_code IS NOT new.street_code OR old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'c^' || substr(old.category_code, 1, 2) AS k, -1 AS d WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'st=' || coalesce(new.street_code, '') || '|' || 'c^' || substr(new.category_code, 1, 2), 1 WHERE length(new.category_code) >= 2 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_st_c3 AFTER UPDATE ON cases WHEN old.street_code IS NOT new.street_code OR old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'c^' || substr(old.category_code, 1, 3) AS k, -1 AS d WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'st=' || coalesce(new.street_code, '') || '|' || 'c^' || substr(new.category_code, 1, 3), 1 WHERE length(new.category_code) >= 3 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_st_h AFTER UPDATE ON cases WHEN old.street_code IS NOT new.street_code OR old.channel IS NOT new.channel BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'h=' || old.channel AS k, -1 AS d
        UNION ALL SELECT 'st=' || coalesce(new.street_code, '') || '|' || 'h=' || new.channel, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_st_o AFTER UPDATE ON cases WHEN old.street_code IS NOT new.street_code OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'o=' || old.overdue AS k, -1 AS d
        UNION ALL SELECT 'st=' || coalesce(new.street_code, '') || '|' || 'o=' || new.overdue, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_cm_o AFTER UPDATE ON cases WHEN old.community_code IS NOT new.community_code OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'cm=' || coalesce(old.community_code, '') || '|' || 'o=' || old.overdue AS k, -1 AS d
        UNION ALL SELECT 'cm=' || coalesce(new.community_code, '') || '|' || 'o=' || new.overdue, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_u_c2 AFTER UPDATE ON cases WHEN old.unit_code IS NOT new.unit_code OR old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'c^' || substr(old.category_code, 1, 2) AS k, -1 AS d WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'u=' || coalesce(new.unit_code, '') || '|' || 'c^' || substr(new.category_code, 1, 2), 1 WHERE length(new.category_code) >= 2 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_u_c3 AFTER UPDATE ON cases WHEN old.unit_code IS NOT new.unit_code OR old.category_code IS NOT new.category_code BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'c^' || substr(old.category_code, 1, 3) AS k, -1 AS d WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'u=' || coalesce(new.unit_code, '') || '|' || 'c^' || substr(new.category_code, 1, 3), 1 WHERE length(new.category_code) >= 3 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_u_h AFTER UPDATE ON cases WHEN old.unit_code IS NOT new.unit_code OR old.channel IS NOT new.channel BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'h=' || old.channel AS k, -1 AS d
        UNION ALL SELECT 'u=' || coalesce(new.unit_code, '') || '|' || 'h=' || new.channel, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_u_o AFTER UPDATE ON cases WHEN old.unit_code IS NOT new.unit_code OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'o=' || old.overdue AS k, -1 AS d
        UNION ALL SELECT 'u=' || coalesce(new.unit_code, '') || '|' || 'o=' || new.overdue, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c2_h AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code OR old.channel IS NOT new.channel BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 2) || '|' || 'h=' || old.channel AS k, -1 AS d WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 2) || '|' || 'h=' || new.channel, 1 WHERE length(new.category_code) >= 2 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c2_o AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 2) || '|' || 'o=' || old.overdue AS k, -1 AS d WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 2) || '|' || 'o=' || new.overdue, 1 WHERE length(new.category_code) >= 2 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c3_h AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code OR old.channel IS NOT new.channel BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 3) || '|' || 'h=' || old.channel AS k, -1 AS d WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 3) || '|' || 'h=' || new.channel, 1 WHERE length(new.category_code) >= 3 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_c3_o AFTER UPDATE ON cases WHEN old.category_code IS NOT new.category_code OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'c^' || substr(old.category_code, 1, 3) || '|' || 'o=' || old.overdue AS k, -1 AS d WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(new.category_code, 1, 3) || '|' || 'o=' || new.overdue, 1 WHERE length(new.category_code) >= 3 AND new.category_code NOT GLOB '*[^ -~]*') WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_h_o AFTER UPDATE ON cases WHEN old.channel IS NOT new.channel OR old.overdue IS NOT new.overdue BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT 'h=' || old.channel || '|' || 'o=' || old.overdue AS k, -1 AS d
        UNION ALL SELECT 'h=' || new.channel || '|' || 'o=' || new.overdue, 1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER case_counts_delete AFTER DELETE ON cases BEGIN
    INSERT INTO case_counts (key, n) SELECT k, d FROM (SELECT '*' AS k, -1 AS d
        UNION ALL SELECT 's=' || old.status, -1
        UNION ALL SELECT 'st=' || coalesce(old.street_code, ''), -1
        UNION ALL SELECT 'cm=' || coalesce(old.community_code, ''), -1
        UNION ALL SELECT 'u=' || coalesce(old.unit_code, ''), -1
        UNION ALL SELECT 'c=' || coalesce(old.category_code, ''), -1
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 2), -1 WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 3), -1 WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 5), -1 WHERE length(old.category_code) >= 5 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'h=' || old.channel, -1
        UNION ALL SELECT 'o=' || old.overdue, -1
        UNION ALL SELECT 's=' || old.status || '|' || 'st=' || coalesce(old.street_code, ''), -1
        UNION ALL SELECT 's=' || old.status || '|' || 'cm=' || coalesce(old.community_code, ''), -1
        UNION ALL SELECT 's=' || old.status || '|' || 'u=' || coalesce(old.unit_code, ''), -1
        UNION ALL SELECT 's=' || old.status || '|' || 'c^' || substr(old.category_code, 1, 2), -1 WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 's=' || old.status || '|' || 'c^' || substr(old.category_code, 1, 3), -1 WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 's=' || old.status || '|' || 'h=' || old.channel, -1
        UNION ALL SELECT 's=' || old.status || '|' || 'o=' || old.overdue, -1
        UNION ALL SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'u=' || coalesce(old.unit_code, ''), -1
        UNION ALL SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'c^' || substr(old.category_code, 1, 2), -1 WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'c^' || substr(old.category_code, 1, 3), -1 WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'h=' || old.channel, -1
        UNION ALL SELECT 'st=' || coalesce(old.street_code, '') || '|' || 'o=' || old.overdue, -1
        UNION ALL SELECT 'cm=' || coalesce(old.community_code, '') || '|' || 'o=' || old.overdue, -1
        UNION ALL SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'c^' || substr(old.category_code, 1, 2), -1 WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'c^' || substr(old.category_code, 1, 3), -1 WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'h=' || old.channel, -1
        UNION ALL SELECT 'u=' || coalesce(old.unit_code, '') || '|' || 'o=' || old.overdue, -1
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 2) || '|' || 'h=' || old.channel, -1 WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 2) || '|' || 'o=' || old.overdue, -1 WHERE length(old.category_code) >= 2 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 3) || '|' || 'h=' || old.channel, -1 WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'c^' || substr(old.category_code, 1, 3) || '|' || 'o=' || old.overdue, -1 WHERE length(old.category_code) >= 3 AND old.category_code NOT GLOB '*[^ -~]*'
        UNION ALL SELECT 'h=' || old.channel || '|' || 'o=' || old.overdue, -1) WHERE 1
        ON CONFLICT (key) DO UPDATE SET n = n + excluded.n;
END;
