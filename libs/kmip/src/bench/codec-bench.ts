// Codec benchmark: decode and encode rates of typical vCenter messages, next
// to a Buffer-copy baseline of the same bytes measured in the same run.
// Run: npm run bench -w libs/kmip   (single-threaded: one core)

import {
  RequestMessage, ResponseMessage, decodeRequest, decodeResponse, encodeRequest, encodeResponse, sampleGetResponse, vcenter, vcenterConversation,
} from '../index';

interface Result {
  name: string;
  /** Operations per second of wall time. */
  opsPerSec: number;
  /** Operations per second of this process's CPU time (user + system): what one dedicated core does. */
  opsPerCpuSec: number;
}

/**
 * Runs fn repeatedly for ~ms milliseconds, `rounds` times; returns the median
 * rates. CPU time is measured too: on a shared machine the wall-clock rate
 * depends on what else runs, the rate per CPU-second much less.
 */
function measure(name: string, fn: () => unknown, ms = 400, rounds = 5): Result {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const c0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 200; i++) fn();
      n += 200;
      now = process.hrtime.bigint();
    }
    const c = process.cpuUsage(c0);
    wall.push(n / (Number(now - start) / 1e9));
    cpu.push(n / ((c.user + c.system) / 1e6));
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  return { name, opsPerSec: median(wall), opsPerCpuSec: median(cpu) };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);

function main(): void {
  const getResponse: ResponseMessage = sampleGetResponse('7f1c2a6e-3b8d-4c55-9f1e-2d4a6b8c0e11', Buffer.alloc(32, 0x5a));
  const createRequest: RequestMessage = vcenter.create(3);
  const getBytes = encodeResponse(getResponse);
  const createBytes = encodeRequest(createRequest);
  let sink = 0;

  const results: Array<[Result, Result]> = [];
  const copyGet = measure(`Buffer copy (${getBytes.length} B)`, () => { sink += Buffer.from(getBytes).length; });
  results.push([measure('Get response   decode', () => { sink += decodeResponse(getBytes).batchItems.length; }), copyGet]);
  results.push([measure('Get response   encode', () => { sink += encodeResponse(getResponse).length; }), copyGet]);
  results.push([measure('Get response   decode+encode', () => { sink += encodeResponse(decodeResponse(getBytes)).length; }), copyGet]);
  const copyCreate = measure(`Buffer copy (${createBytes.length} B)`, () => { sink += Buffer.from(createBytes).length; });
  results.push([measure('Create request decode', () => { sink += decodeRequest(createBytes).batchItems.length; }), copyCreate]);
  results.push([measure('Create request encode', () => { sink += encodeRequest(createRequest).length; }), copyCreate]);
  results.push([measure('Create request decode+encode', () => { sink += encodeRequest(decodeRequest(createBytes)).length; }), copyCreate]);

  console.log(`libs/kmip codec benchmark (node ${process.version}, one thread)`);
  console.log(`Get response ${getBytes.length} bytes, Create request ${createBytes.length} bytes`);
  // The whole vCenter conversation for one key (docs/vcenter.md): 10 requests and 9 answers,
  // each decoded and re-encoded; the rate counts messages.
  const conv = vcenterConversation('7f1c2a6e-3b8d-4c55-9f1e-2d4a6b8c0e11', Buffer.alloc(32, 0x5a));
  const reqBytes = conv.requests.map(([, m]) => encodeRequest(m));
  const resBytes = conv.responses.map(([, m]) => encodeResponse(m));
  const all = Buffer.concat([...reqBytes, ...resBytes]);
  const perMessage = all.length / (reqBytes.length + resBytes.length);
  const copyMix = measure(`Buffer copy (mix, ${Math.round(perMessage)} B/msg)`, () => {
    for (const b of reqBytes) sink += Buffer.from(b).length;
    for (const b of resBytes) sink += Buffer.from(b).length;
  });
  const mix = measure('vCenter conversation mix', () => {
    for (const b of reqBytes) sink += encodeRequest(decodeRequest(b)).length;
    for (const b of resBytes) sink += encodeResponse(decodeResponse(b)).length;
  });
  const n = reqBytes.length + resBytes.length;
  results.push([{ name: 'conversation mix decode+encode', opsPerSec: mix.opsPerSec * n, opsPerCpuSec: mix.opsPerCpuSec * n }, { name: copyMix.name, opsPerSec: copyMix.opsPerSec * n, opsPerCpuSec: copyMix.opsPerCpuSec * n }]);

  console.log('operation                       msgs/s (wall)  msgs/CPU-s   copy/CPU-s   ratio to copy (CPU)');
  for (const [r, base] of results) {
    console.log(`${r.name.padEnd(30)}${fmt(r.opsPerSec)} ${fmt(r.opsPerCpuSec)} ${fmt(base.opsPerCpuSec)}   ${(r.opsPerCpuSec / base.opsPerCpuSec).toFixed(3)}`);
  }
  const typical = results[6][0].opsPerCpuSec;
  const largest = Math.min(results[2][0].opsPerCpuSec, results[5][0].opsPerCpuSec);
  console.log(`typical vCenter message (the conversation's ${n} messages, ${Math.round(perMessage)} bytes on average) decode+encode per CPU-second: ${fmt(typical).trim()} msgs/s (aim >= 200,000): ${typical >= 200_000 ? 'MET' : 'NOT MET'}`);
  console.log(`largest messages of the conversation (Get answer, Create request): ${fmt(largest).trim()} msgs/s per CPU-second`);
  if (sink === -1) console.log(sink);
}

main();
