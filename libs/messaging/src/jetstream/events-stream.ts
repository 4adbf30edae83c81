import { EVENTS_STREAM, parseStreamName } from '@schedstack/contracts';
import { parsePosition, positionToString, type RecordedEvent } from '@schedstack/event-store';
import {
  DiscardPolicy,
  headers as natsHeaders,
  JSONCodec,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type MsgHdrs,
  type StreamConfig,
  type StreamInfo,
} from 'nats';

/** Subjects are `<prefix>.<project>.<environment>.<type>`; 'events' in production (SPEC §1). */
export const DEFAULT_SUBJECT_PREFIX = 'events';

export const HEADER_MSG_ID = 'Nats-Msg-Id';
export const HEADER_POSITION = 'Sched-Position';
export const HEADER_EVENT_TYPE = 'Sched-Event-Type';

export const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

export interface EnsureEventsStreamOptions {
  /** Default `EVENTS_STREAM`; tests use their own. */
  readonly name?: string;
  /** Default `['events.>']`. */
  readonly subjects?: readonly string[];
  readonly duplicateWindowMs?: number;
  readonly replicas?: number;
}

/** The JSON body of a relayed event. Positions are strings: JSON has no 64-bit integers. */
export interface EventMessageBody {
  readonly id: string;
  readonly stream: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly revision: number;
  readonly position: string;
  readonly created_at: string;
}

const codec = JSONCodec<EventMessageBody>();

/**
 * Creates the events stream, or brings subjects and duplicate window of an existing one up to
 * date. Idempotent, so every relay replica may call it on start.
 */
export async function ensureEventsStream(
  jsm: JetStreamManager,
  options: EnsureEventsStreamOptions = {},
): Promise<StreamInfo> {
  const name = options.name ?? EVENTS_STREAM;
  const subjects = [...(options.subjects ?? [`${DEFAULT_SUBJECT_PREFIX}.>`])];
  const duplicateWindow = nanos(options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
  let existing: StreamInfo | null = null;
  try {
    existing = await jsm.streams.info(name);
  } catch (error) {
    if (!isJetStreamNotFound(error)) throw error;
  }
  if (!existing) {
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: duplicateWindow,
      num_replicas: options.replicas ?? 1,
    };
    try {
      return await jsm.streams.add(config);
    } catch (error) {
      // Another replica created it first: fall through to the update check.
      existing = await jsm.streams.info(name).catch(() => {
        throw error;
      });
    }
  }
  const current = existing.config;
  const sameSubjects =
    current.subjects.length === subjects.length && subjects.every((s) => current.subjects.includes(s));
  if (sameSubjects && current.duplicate_window === duplicateWindow) return existing;
  return jsm.streams.update(name, { ...current, subjects, duplicate_window: duplicateWindow });
}

export function isJetStreamNotFound(error: unknown): boolean {
  const apiError = (error as { api_error?: { code?: number } } | null)?.api_error;
  return apiError?.code === 404 || /not found/i.test((error as Error | null)?.message ?? '');
}

const TOKEN = /^[^\s.*>]+$/;

/**
 * `<prefix>.<project>.<environment>.<type>`, the subject `eventSubject()` of @schedstack/contracts
 * gives for the default prefix. Null for streams outside the `<project>.<environment>.<aggregate>-<id>`
 * scheme and for names that would not be valid subject tokens.
 */
export function subjectForEvent(prefix: string, event: Pick<RecordedEvent, 'streamName' | 'type'>): string | null {
  const parsed = parseStreamName(event.streamName);
  if (!parsed || !TOKEN.test(parsed.scope.projectId)) return null;
  if (!event.type.split('.').every((token) => TOKEN.test(token))) return null;
  return `${prefix}.${parsed.scope.projectId}.${parsed.scope.environment}.${event.type}`;
}

export function encodeEventMessage(event: RecordedEvent): { body: Uint8Array; headers: MsgHdrs } {
  const position = positionToString(event.position);
  const body = codec.encode({
    id: event.id,
    stream: event.streamName,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
    revision: event.revision,
    position,
    created_at: event.createdAt.toISOString(),
  });
  const headers = natsHeaders();
  headers.set(HEADER_MSG_ID, event.id);
  headers.set(HEADER_POSITION, position);
  headers.set(HEADER_EVENT_TYPE, event.type);
  return { body, headers };
}

export function decodeEventMessage(data: Uint8Array): RecordedEvent {
  const body = codec.decode(data);
  if (typeof body?.id !== 'string' || typeof body.position !== 'string' || typeof body.stream !== 'string') {
    throw new Error('Not a relayed event message');
  }
  return {
    id: body.id,
    streamName: body.stream,
    type: body.type,
    data: body.data,
    metadata: body.metadata ?? {},
    revision: body.revision,
    position: parsePosition(body.position),
    createdAt: new Date(body.created_at),
  };
}
