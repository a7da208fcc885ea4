-- Loads tools/bench/bench_impact.sh's events and the two zone sets into PostGIS (psql; variables: csv, the
-- events' lon,lat,day CSV; zones_cur, zones_prop, the zone-set GeoJSON files; both read on the server).
-- Events: one row each, a point geometry (SRID 4326) with a GiST index; zones: one row per zone, the
-- set's name from the file, the geometry as the file has it (ST_GeomFromGeoJSON, no repair).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP TABLE IF EXISTS events_raw, events, zones;
CREATE UNLOGGED TABLE events_raw (lon double precision, lat double precision, day date);
COPY events_raw FROM :'csv' WITH (FORMAT csv, HEADER true);
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY,
  day date NOT NULL,
  geom geometry(Point, 4326) NOT NULL
);
INSERT INTO events (day, geom) SELECT day, ST_SetSRID(ST_MakePoint(lon, lat), 4326) FROM events_raw;
DROP TABLE events_raw;
CREATE INDEX events_geom ON events USING gist (geom);
CREATE TABLE zones (set_name text NOT NULL, id text NOT NULL, geom geometry(MultiPolygon, 4326) NOT NULL);
INSERT INTO zones (set_name, id, geom)
SELECT f.doc ->> 'name', coalesce(z ->> 'id', z -> 'properties' ->> 'id'),
       ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(z -> 'geometry'), 4326))
FROM (SELECT pg_read_file(:'zones_cur')::jsonb AS doc UNION ALL SELECT pg_read_file(:'zones_prop')::jsonb) f,
     jsonb_array_elements(f.doc -> 'features') z;
CREATE INDEX zones_geom ON zones USING gist (geom);
VACUUM ANALYZE events;
VACUUM ANALYZE zones;
CHECKPOINT;
