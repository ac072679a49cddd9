"""`make local-invoke`: `sam local invoke` of every function in a locally built Lambda image."""
