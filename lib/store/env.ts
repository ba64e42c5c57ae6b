/**
 * The environment variables an S3 catalog is configured by, named once: the
 * S3 client reads these (lib/store/s3.ts) and the permission sets allow them
 * (lib/input/cli.ts's `ENV_NAMES`). No other imports, so the command line
 * can list them without loading the client.
 *
 * @module
 */

/** The environment variables the S3 client is configured by (AWS names). */
export const S3_ENV_NAMES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_REGION",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ENDPOINT_URL",
] as const;

/** The variables of {@linkcode S3_ENV_NAMES}, as read by the caller. */
export type S3Env = Partial<Record<(typeof S3_ENV_NAMES)[number], string | undefined>>;
