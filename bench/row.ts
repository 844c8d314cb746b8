// One bench row in a process of its own (bench/rows.ts `ours`): the job as JSON in argv, the row as the
// last line of stdout, with this process's peak resident memory.
import { runRow, type RowJob } from './rows.ts';

const job = JSON.parse(process.argv[2]) as RowJob;
console.log(JSON.stringify(await runRow(job)));
process.exit(0);
