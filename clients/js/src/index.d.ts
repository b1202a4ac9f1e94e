export declare const SUBPROTOCOL: "notify.v1";

export type State = "connecting" | "open" | "disconnected" | "closed";

/** A notification envelope (docs/protocol.md). */
export interface Notification<T = unknown> {
  type: "notification";
  id: string;
  createdAt: number;
  data: T;
  sender: string;
  /** Set when the notification was pushed to a topic the user is subscribed to. */
  topic?: string;
}

export interface HistoryPage {
  items: Notification[];
  next: string | null;
}

/** The ack of `subscribe` / `unsubscribe` (docs/protocol.md, "Topics"). */
export interface SubscriptionAck {
  ok: true;
  topic: string;
  userId: string;
  subscribed: boolean;
  /** subscribe: false when the user was subscribed already. */
  created?: boolean;
  /** unsubscribe: false when the user was not subscribed. */
  removed?: boolean;
}

export interface NotifyClientOptions {
  /** Start after this notification id (default: from the oldest kept). */
  cursor?: string | null;
  pollLimit?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Send a `poll` when nothing was sent for this long (default 540000: 9 minutes). */
  keepaliveMs?: number;
  /** Reconnect by itself after this long (default 7000000: before API Gateway's 2 hours). */
  maxConnectionMs?: number;
  /** Refresh this long before the token's exp (at most a quarter of its remaining life). */
  refreshMarginMs?: number;
  requestTimeoutMs?: number;
  dedupSize?: number;
  /** A WebSocket constructor when there is no global one. */
  WebSocket?: typeof WebSocket;
}

export declare class NotifyError extends Error {
  constructor(code: string, message: string, frame?: object);
  /** An error envelope's code, HTTP_<status>, GATEWAY, or CLIENT_*. */
  code: string;
  frame?: object;
}

export interface NotifyClientEventMap {
  notification: CustomEvent<Notification>;
  state: CustomEvent<State>;
  error: CustomEvent<NotifyError>;
}

export declare class NotifyClient extends EventTarget {
  constructor(url: string, getToken: () => string | Promise<string>, options?: NotifyClientOptions);
  readonly url: string;
  /** The largest notification id processed. */
  cursor: string | null;
  state: State;
  /** Successful handshakes so far. */
  connects: number;
  start(): void;
  close(): Promise<void>;
  waitForState(state: State, timeoutMs?: number): Promise<void>;
  poll(after?: string | null, limit?: number, topic?: string): Promise<HistoryPage>;
  subscribe(topic: string): Promise<SubscriptionAck>;
  unsubscribe(topic: string): Promise<SubscriptionAck>;
  push(request: object): Promise<Record<string, unknown>>;
  request(frame: object): Promise<{ type: string; id: string; data: any }>;
  addEventListener<K extends keyof NotifyClientEventMap>(
    type: K,
    listener: (event: NotifyClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof NotifyClientEventMap>(
    type: K,
    listener: (event: NotifyClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

export declare function tokenExpiry(token: string): number | null;
export declare function backoffDelay(attempt: number, initialMs: number, maxMs: number): number;
