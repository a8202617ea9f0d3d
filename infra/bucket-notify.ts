/**
 * Points a MinIO bucket's object-created events at diffc's trigger receiver: the webhook target
 * itself is configured by environment when MinIO starts (infra/dev-up.sh, DIFFC_TRIGGER_URL);
 * this sets the bucket's notification configuration to use it.
 *
 *   node --import tsx infra/bucket-notify.ts <bucket> [prefix]     # S3_* from the environment
 */
import { S3Client, PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { s3ConfigFromEnv } from '../src/storage/index.js';

/** The ARN MinIO gives the webhook target named DIFFC (MINIO_NOTIFY_WEBHOOK_*_DIFFC). */
export const WEBHOOK_ARN = 'arn:minio:sqs::DIFFC:webhook';

export async function configureBucketNotification(bucket: string, prefix = '', env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const c = s3ConfigFromEnv(env);
  const s3 = new S3Client({ endpoint: c.endpoint, region: c.region ?? 'us-east-1', forcePathStyle: c.forcePathStyle ?? true, credentials: c.credentials });
  try {
    await s3.send(new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [{
          Id: 'diffc-trigger', QueueArn: WEBHOOK_ARN, Events: ['s3:ObjectCreated:*'],
          ...(prefix ? { Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } } } : {}),
        }],
      },
    }));
  } finally {
    s3.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [bucket, prefix] = process.argv.slice(2);
  if (!bucket) {
    console.error('usage: bucket-notify.ts <bucket> [prefix]');
    process.exit(2);
  }
  configureBucketNotification(bucket, prefix).catch((e: Error) => {
    console.error(`bucket-notify: ${e.name}: ${e.message}`);
    process.exit(1);
  });
}
