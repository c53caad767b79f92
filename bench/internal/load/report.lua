-- pilb-bench: print the exact counters and the percentiles that wrk's
-- --latency table leaves out (p99.9), as one line the harness parses.
--
-- With PILB_BENCH_SLOW_US set, the line also counts the responses slower
-- than that many microseconds: the largest rank whose latency is at most
-- the threshold is found by bisection over latency:percentile, since
-- walking every recorded value through latency(i) costs one walk of the
-- histogram per value. The rank of percentile p is round(p/100*n + 0.5),
-- so p = (r - 0.25)/n*100 names rank r exactly. n is summary.requests,
-- which equals the recorded count when --timeout exceeds the run (a
-- response slower than --timeout is counted as a timeout, not recorded).
done = function(summary, latency, requests)
  local e = summary.errors
  local slow = ""
  local slow_us = tonumber(os.getenv("PILB_BENCH_SLOW_US") or "")
  if slow_us then
    local n = summary.requests
    local lo, hi = 0, n
    while lo < hi do
      local mid = math.floor((lo + hi + 1) / 2)
      local v = latency:percentile((mid - 0.25) / n * 100)
      if v ~= 0 and v <= slow_us then lo = mid else hi = mid - 1 end
    end
    slow = string.format(" slow_us=%d slow=%d", slow_us, n - lo)
  end
  io.write(string.format(
    "PILB-BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d p999_us=%d mean_us=%.2f max_us=%d%s\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max, slow))
end
