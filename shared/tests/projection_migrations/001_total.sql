CREATE TABLE total (id text PRIMARY KEY, value bigint NOT NULL, applied integer NOT NULL);
