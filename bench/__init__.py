"""The benchmark harness behind `make bench`.

It builds a realistic data set in a fresh database, serves the API and a bare
FastAPI hello-world side by side under uvicorn, drives both with wrk and
reports every scenario as a ratio to the hello-world measured in the same run,
so the numbers compare across machines.
"""
