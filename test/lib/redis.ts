// A throwaway redis-server for one test suite: its own free port and temp
// directory, AOF with fsync on every write (the durability keywarden relies
// on), and no RDB snapshots. Never touches the machine's own Redis. The stack
// launcher's Redis (libs/stack), which `npm start` runs too.
export { eventually, freePort, redisCommand, startRedis, waitFor } from '@keywarden/stack';
export type { RespValue, StartRedisOptions, TestRedis } from '@keywarden/stack';
