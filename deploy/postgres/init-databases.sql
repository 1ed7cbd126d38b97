-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d):
-- one database per service that owns one; POSTGRES_DB is `postgres`, so neither exists yet.
CREATE DATABASE versioner;
CREATE DATABASE versioner_notifier;
