-- Unfiltered searches count and page the live resources of one type in id order; this index answers
-- both without touching the (large) rows, filtering by patient from the index itself.
CREATE INDEX resources_live_by_type ON resources(type, id, patient_id) WHERE deleted = 0;
