//! The database's layout, version by version. `PRAGMA user_version` holds
//! the version a file is at; opening it applies the migrations after that,
//! in one transaction. `PRAGMA application_id` marks the file as ours.

/// "mstr": written into every state database maestro creates.
pub const APPLICATION_ID: i32 = 0x6d73_7472;

/// Migration `i` takes a file from version `i` to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, their attempts and skips, what each task last did, file hashes.
    r#"
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        kind        TEXT NOT NULL,              -- 'run' | 'par'
        flow        TEXT,                       -- the flow file, absolute; NULL for par
        argv        TEXT NOT NULL,              -- the command line, one argument per line
        pid         INTEGER NOT NULL,
        started_ms  INTEGER NOT NULL,           -- Unix time, milliseconds
        ended_ms    INTEGER,
        status      TEXT NOT NULL,              -- 'running' | 'ok' | 'failed' | 'interrupted'
        ok          INTEGER NOT NULL DEFAULT 0,
        failed      INTEGER NOT NULL DEFAULT 0,
        skipped     INTEGER NOT NULL DEFAULT 0,
        not_run     INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_flow ON runs (flow, id);
    CREATE TABLE attempts (
        run_id      INTEGER NOT NULL,
        instance    TEXT NOT NULL,
        number      INTEGER NOT NULL,           -- from 1
        started_ms  INTEGER NOT NULL,
        ended_ms    INTEGER,
        status      TEXT NOT NULL,              -- 'running' | 'ok' | 'failed' | 'timed_out'
                                                -- | 'interrupted' | 'spawn_failed'
                                                -- | 'missing_outputs' | 'bad_output_file'
        exit_code   INTEGER,
        signal      INTEGER,
        detail      TEXT,                       -- what went wrong, in words
        duration_us INTEGER,
        cpu_us      INTEGER,
        max_rss_kib INTEGER,
        cache_key   TEXT,
        log         TEXT NOT NULL,
        outputs     TEXT,                       -- MAESTRO_OUTPUT pairs, key=value lines
        PRIMARY KEY (run_id, instance, number)
    ) WITHOUT ROWID;
    CREATE INDEX attempts_by_instance ON attempts (instance, run_id);
    -- Finding attempts left running by a killed maestro, without a scan.
    CREATE INDEX attempts_running ON attempts (run_id) WHERE status = 'running';
    CREATE TABLE skips (                        -- instances a run did not run, by kind
        run_id      INTEGER NOT NULL,
        kind        TEXT NOT NULL,              -- 'fresh' | 'resumed' | 'dep_failed' | 'cancelled'
        instances   TEXT NOT NULL               -- one name per line, \ and newlines escaped
    );
    CREATE INDEX skips_by_run ON skips (run_id);
    CREATE TABLE tasks (
        flow        TEXT NOT NULL,
        instance    TEXT NOT NULL,
        recent_us   TEXT NOT NULL DEFAULT '',   -- latest successful durations, newest first
        failed_last INTEGER NOT NULL DEFAULT 0,
        record      TEXT,                       -- its last success (fresh::Record), if still valid
        PRIMARY KEY (flow, instance)
    ) WITHOUT ROWID;
    CREATE TABLE files (
        path        TEXT PRIMARY KEY,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        inode       INTEGER NOT NULL,
        hash        BLOB NOT NULL,              -- xxh3-128, 16 bytes little-endian
        hashed_ns   INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 2: attempts are stored in the order they start, so that recording a
    // run appends to the table instead of inserting all over it. Keyed by
    // (run, instance) and by (instance, run), every commit of a busy run
    // dirtied a page per attempt, more as the history grew: 6,700 WAL page
    // writes to record 5,000 no-op tasks after a few runs, 9 µs per task.
    // Only the current run's part of `attempts_by_run` takes scattered
    // inserts now; the newest attempt of an instance is found by walking
    // the runs back from the newest. Also new in version 2, in values only:
    // runs.kind 'map', skips.kind 'joblog' (jobs `map --resume` skipped).
    r#"
    CREATE TABLE attempts_v2 (
        id          INTEGER PRIMARY KEY,        -- in start order
        run_id      INTEGER NOT NULL,
        instance    TEXT NOT NULL,
        number      INTEGER NOT NULL,
        started_ms  INTEGER NOT NULL,
        ended_ms    INTEGER,
        status      TEXT NOT NULL,
        exit_code   INTEGER,
        signal      INTEGER,
        detail      TEXT,
        duration_us INTEGER,
        cpu_us      INTEGER,
        max_rss_kib INTEGER,
        cache_key   TEXT,
        log         TEXT NOT NULL,
        outputs     TEXT
    );
    INSERT INTO attempts_v2 (run_id, instance, number, started_ms, ended_ms, status, exit_code,
                             signal, detail, duration_us, cpu_us, max_rss_kib, cache_key, log,
                             outputs)
        SELECT run_id, instance, number, started_ms, ended_ms, status, exit_code, signal, detail,
               duration_us, cpu_us, max_rss_kib, cache_key, log, outputs
        FROM attempts ORDER BY run_id, started_ms, instance, number;
    DROP TABLE attempts;
    ALTER TABLE attempts_v2 RENAME TO attempts;
    CREATE UNIQUE INDEX attempts_by_run ON attempts (run_id, instance, number);
    CREATE INDEX attempts_running ON attempts (run_id) WHERE status = 'running';
    "#,
    // 3: what the report draws: a run's job slots and critical path, each
    // attempt's slots and command. Added columns, no table rewritten; runs
    // recorded before have them NULL.
    r#"
    ALTER TABLE runs ADD COLUMN jobs INTEGER;
    ALTER TABLE runs ADD COLUMN critical_path TEXT;    -- instance names, as skips.instances
    ALTER TABLE attempts ADD COLUMN slots TEXT;        -- the job slots it held: '2' or '1,3'
    ALTER TABLE attempts ADD COLUMN command TEXT;      -- the command line as run
    "#,
    // 4: how long an attempt waited in a batch system's queue before it ran
    // (its duration_us is the time it ran), its id there, and the worker it
    // ran on; NULL before, and for attempts run locally.
    r#"
    ALTER TABLE attempts ADD COLUMN queued_us INTEGER;
    ALTER TABLE attempts ADD COLUMN job_id TEXT;       -- a Slurm job id
    ALTER TABLE attempts ADD COLUMN place TEXT;        -- 'host #N': its worker (slots: its slots there)
    "#,
];

/// The version this maestro writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;
