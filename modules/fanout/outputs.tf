output "queue_url" {
  description = "URL of the shard queue (push's FANOUT_QUEUE_URL)."
  value       = try(aws_sqs_queue.shards[0].url, null)
}

output "queue_arn" {
  description = "ARN of the shard queue."
  value       = try(aws_sqs_queue.shards[0].arn, null)
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue of shards that failed max_receive_count times."
  value       = try(aws_sqs_queue.dead_letters[0].url, null)
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = try(aws_sqs_queue.dead_letters[0].arn, null)
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping (UpdateEventSourceMapping pauses or resumes the workers)."
  value       = try(aws_lambda_event_source_mapping.shards[0].uuid, null)
}
