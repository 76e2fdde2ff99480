import { strict as assert } from "node:assert";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { newPool } from "../../automation/store/postgresPool";

/**
 * The race behind a replica that died in the PostgreSQL fault suite: the backend is
 * terminated just after it accepted a connection, so ReadyForQuery and the FATAL notice
 * arrive in one socket read. node-postgres parses both before `await pool.connect()`
 * resumes, so the FATAL is emitted while nobody listens, and an unheard `error` event
 * ends the process. A fake server sends exactly that byte sequence, every time.
 */

function message(type: string, body: Buffer): Buffer {
    const header = Buffer.alloc(5);
    header.write(type, 0, "latin1");
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
}

const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
};

const AUTHENTICATION_OK = message("R", int32(0));
const READY_FOR_QUERY = message("Z", Buffer.from("I", "latin1"));
const TERMINATED = message("E", Buffer.concat([
    ...([["S", "FATAL"], ["V", "FATAL"], ["C", "57P01"], ["M", "terminating connection due to administrator command"]] as const)
        .map(([field, value]) => Buffer.from(`${field}${value}\0`, "utf8")),
    Buffer.from([0]),
]));

/**
 * Accepts the startup message, then answers ready and terminates the session: in the same
 * write, or `laterMs` afterwards.
 */
async function terminatingServer(laterMs?: number): Promise<{ server: Server; port: number; connections: () => number }> {
    let connections = 0;
    const server = createServer((socket: Socket) => {
        connections++;
        let received = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => {
            received = Buffer.concat([received, chunk]);
            // The startup message is length-prefixed and has no type byte.
            if (received.length < 4 || received.length < received.readInt32BE(0)) return;
            if (laterMs === undefined) {
                socket.end(Buffer.concat([AUTHENTICATION_OK, READY_FOR_QUERY, TERMINATED]));
            } else {
                socket.write(Buffer.concat([AUTHENTICATION_OK, READY_FOR_QUERY]));
                setTimeout(() => socket.end(TERMINATED), laterMs);
            }
        });
        socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe("PostgreSQL pool: a backend terminated as the connection is handed over", () => {
    let fake: Awaited<ReturnType<typeof terminatingServer>>;
    before(async () => {
        fake = await terminatingServer();
    });
    after(async () => {
        await new Promise((resolve) => fake.server.close(resolve));
    });

    it("does not crash the process, and the next statement reports the broken connection", async () => {
        const uncaught: unknown[] = [];
        const onUncaught = (e: unknown) => uncaught.push(e);
        // Mocha's own handler would also see it; this one lets the test name what happened.
        process.prependListener("uncaughtException", onUncaught);
        const pool = newPool({ host: "127.0.0.1", port: fake.port, user: "kvp", database: "kvp", max: 1 });
        try {
            const client = await pool.connect();
            await new Promise((resolve) => setImmediate(resolve));
            await assert.rejects(client.query("SELECT 1"), /not queryable|terminat/i);
            client.release(true);
            assert.equal(fake.connections(), 1);
            assert.deepEqual(uncaught.map(String), [], "no uncaught error event");
        } finally {
            process.removeListener("uncaughtException", onUncaught);
            await pool.end();
        }
    });

    it("hands an idle connection's failure to onConnectionError and drops the connection", async () => {
        const later = await terminatingServer(100);
        const heard: unknown[] = [];
        const pool = newPool({ host: "127.0.0.1", port: later.port, user: "kvp", database: "kvp", max: 1 }, (e) => heard.push(e));
        try {
            const client = await pool.connect();
            client.release();
            assert.equal(pool.idleCount, 1);
            await new Promise((resolve) => setTimeout(resolve, 400));
            assert.deepEqual(heard.map((e) => (e as Error).message), ["terminating connection due to administrator command"]);
            assert.equal(pool.totalCount, 0, "the broken connection left the pool");
        } finally {
            await pool.end();
            await new Promise((resolve) => later.server.close(resolve));
        }
    });
});
