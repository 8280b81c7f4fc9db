"""The soak and crash test behind `make soak`.

It serves the API with production settings on a fresh database, sets up real
members, a clinic and a webhook subscription through the API, drives mixed
traffic from a second process that writes down every write the server
acknowledged, then kills the server with SIGKILL in the middle of a second
round of writes, restarts it and checks the database against that record.
"""
