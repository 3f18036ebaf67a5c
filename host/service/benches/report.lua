-- wrk's summary as one line: requests/s and latency percentiles (the
-- load scripts of this folder print it for each run).
done = function(summary, latency, requests)
  io.write(string.format("  -> %.0f req/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, errors %d non-2xx %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
