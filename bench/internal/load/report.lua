-- pilb-bench: print the exact counters and the percentiles that wrk's
-- --latency table leaves out (p99.9), as one line the harness parses.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "PILB-BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d p999_us=%d mean_us=%.2f max_us=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max))
end
