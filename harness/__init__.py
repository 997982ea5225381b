"""The run machinery every stage shares: sending requests (send, runner, batch, workers), rate
limits, retries, the response cache, resumable results files, the rows' schema and the
scripts' flags."""
