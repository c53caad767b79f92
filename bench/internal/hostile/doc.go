// Package hostile runs the hostile-load scenarios of pilb-bench hostile
// (issue 7, "Measured targets") against pilb, nginx and HAProxy side by
// side: 8,000 keep-alive clients, slowloris connections beside a normal
// load, thousands of idle connections, a slow download and a slow upload,
// a thousand concurrent 1 MiB downloads, and the CPU cost per request.
//
// It holds the clients wrk cannot play (Slowloris, OpenIdle,
// SlowDownload, Upload), the origin the slow transfers need (Origin:
// pilb-backend serves at most 64 MiB and reads as fast as it can), and
// the rounds: every scenario runs Env.Rounds times on freshly started
// proxies, the proxies interleaved within each round, and records one
// results.Figure per proxy, variant and round.
package hostile
