-- tools/bench/bench_impact.sh's baseline, form 2: the same counts as bench_impact_union.sql, zone by zone:
-- every (zone, event) pair that ST_Intersects (a spatial join through the events' GiST index), then per
-- event whether some current zone and some proposal zone hold it. psql variables: cur, prop.
WITH hit AS (
  SELECT e.id, e.day, bool_or(z.set_name = :'cur') AS in_cur, bool_or(z.set_name = :'prop') AS in_prop
  FROM zones z JOIN events e ON ST_Intersects(z.geom, e.geom)
  WHERE z.set_name IN (:'cur', :'prop')
  GROUP BY e.id, e.day
)
SELECT to_char(date_trunc('month', day), 'YYYY-MM') AS month,
       count(*) FILTER (WHERE in_prop AND NOT in_cur) AS newly_inside,
       count(*) FILTER (WHERE in_cur AND NOT in_prop) AS newly_outside
FROM hit
GROUP BY date_trunc('month', day)
HAVING count(*) FILTER (WHERE in_prop <> in_cur) > 0
ORDER BY 1;
