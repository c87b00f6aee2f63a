/**
 * Library-wide defaults: OpenResty's `lua_socket_*` directives as an Effect `Context.Reference`.
 * Without a layer every default is OpenResty's (60 s timeouts, pool size 30, keepalive 60 s).
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { InvalidArgument } from "./CosocketError.js"
import * as validate from "./internal/validate.js"

/**
 * The resolved defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  /** TCP connect, TLS handshake and the wait for a pooled connection (`lua_socket_connect_timeout`). */
  readonly connectTimeout: Duration.Duration
  /** Inactivity timeout of each send (`lua_socket_send_timeout`). */
  readonly sendTimeout: Duration.Duration
  /** Inactivity timeout of each read, TCP and UDP (`lua_socket_read_timeout`). */
  readonly readTimeout: Duration.Duration
  /** Default capacity of a pool key (`lua_socket_pool_size`). */
  readonly poolSize: number
  /** Default idle time of a pooled connection; zero or infinity: unlimited (`lua_socket_keepalive_timeout`). */
  readonly keepaliveTimeout: Duration.Duration
  /** Longest line `receive("*l")` buffers before failing with `ReceiveLimitExceeded`; `undefined`: no limit. */
  readonly maxLineLength: number | undefined
  /** Most bytes `receive("*a")` and unsized `receiveUntil` buffer; `undefined`: no limit. */
  readonly maxReceiveSize: number | undefined
  /** Set TCP_NODELAY on new TCP connections (nginx's `tcp_nodelay on`). */
  readonly noDelay: boolean
  /** Most datagrams a UDP socket queues while nobody reads; later ones are dropped and counted. */
  readonly udpQueueSize: number
  /**
   * A span per TCP read and send (`cosocket.receive`, `cosocket.send`) when a tracer is installed
   * (default `false`: only connects, TLS handshakes and pool waits are traced).
   */
  readonly traceIo: boolean
}

/**
 * Settings given by the user: any subset, durations as `Duration.Input`s.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly connectTimeout?: Duration.Input | undefined
  readonly sendTimeout?: Duration.Input | undefined
  readonly readTimeout?: Duration.Input | undefined
  readonly poolSize?: number | undefined
  readonly keepaliveTimeout?: Duration.Input | undefined
  readonly maxLineLength?: number | undefined
  readonly maxReceiveSize?: number | undefined
  readonly noDelay?: boolean | undefined
  readonly udpQueueSize?: number | undefined
  readonly traceIo?: boolean | undefined
}

/**
 * OpenResty's defaults.
 *
 * @since 0.1.0
 * @category constants
 * @example
 * ```ts
 * import { CosocketConfig } from "effect-cosocket"
 *
 * console.log(CosocketConfig.defaults.poolSize) // 30
 * ```
 */
export const defaults: Settings = {
  connectTimeout: Duration.seconds(60),
  sendTimeout: Duration.seconds(60),
  readTimeout: Duration.seconds(60),
  poolSize: 30,
  keepaliveTimeout: Duration.seconds(60),
  maxLineLength: undefined,
  maxReceiveSize: undefined,
  noDelay: true,
  udpQueueSize: 1024,
  traceIo: false
}

/**
 * The service: read it with `yield* CosocketConfig.CosocketConfig`; without a layer it holds
 * {@link defaults}.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CosocketConfig } from "effect-cosocket"
 *
 * const program = Effect.gen(function*() {
 *   const config = yield* CosocketConfig.CosocketConfig
 *   return config.poolSize
 * })
 * ```
 */
export const CosocketConfig: Context.Reference<Settings> = Context.Reference<Settings>(
  "effect-cosocket/CosocketConfig",
  {
    defaultValue: () => defaults
  }
)

/**
 * Validates options over a base (the defaults unless given), naming the offending option.
 * Anything but an options object (`null`, `undefined`, a number) fails with `InvalidArgument`.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CosocketConfig } from "effect-cosocket"
 *
 * const settings = CosocketConfig.make({ readTimeout: "5 seconds" }) // Effect<Settings, InvalidArgument>
 * ```
 */
export const make = (options: Options, base: Settings = defaults): Effect.Effect<Settings, InvalidArgument> =>
  Effect.suspend(() => {
    const result = validate.settings(options, base)
    return validate.isInvalid(result) ? Effect.fail(result) : Effect.succeed(result)
  })

/**
 * A layer with the given options over OpenResty's defaults. Invalid options fail the layer with
 * `InvalidArgument`.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { CosocketConfig } from "effect-cosocket"
 *
 * const ConfigLive = CosocketConfig.layer({ connectTimeout: "2 seconds", poolSize: 64, maxLineLength: 65536 })
 * ```
 */
export const layer = (options: Options): Layer.Layer<never, InvalidArgument> =>
  Layer.effect(CosocketConfig, make(options))

/**
 * A layer whose options come from Effect's `Config` (environment variables by default).
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { CosocketConfig } from "effect-cosocket"
 *
 * const ConfigLive = CosocketConfig.layerConfig(Config.all({
 *   readTimeout: Config.duration("SOCKET_READ_TIMEOUT").pipe(Config.withDefault("60 seconds")),
 *   poolSize: Config.integer("SOCKET_POOL_SIZE").pipe(Config.withDefault(30))
 * }))
 * ```
 */
export const layerConfig = (
  config: Config.Config<Options>
): Layer.Layer<never, InvalidArgument | Config.ConfigError> =>
  Layer.effect(CosocketConfig, Effect.flatMap(config, (options) => make(options)))
