-- Erasure: deleted spaces whose S3 objects are still to be removed (by `erasure.ObjectPurger`).
CREATE TABLE erased_space (
    space_id text PRIMARY KEY
);
