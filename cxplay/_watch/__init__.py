"""Disruptions: `cxplay watch` correlates a stream of incidents (see docs/watch.md).

correlator (event-time windows per key, watermark, lateness: plain Python) · watch (one
incident → suggestion and disruption events) · notices (a member's notice, rendered like a
reply) · store (disruptions, members and watcher state in the decision log's store) · run
(the JSONL loop: batches committed before they are written) · resolve (resolution notices)
· nats (JetStream input and output, partitioned by key)
"""
