import 'reflect-metadata';
import { DispatcherServiceModule } from '@schedstack/dispatcher-service';
import { runMain, startServiceProcess } from '@schedstack/runtime';

/** The dispatcher service as its own process (SPEC §1 distributed profile). */
runMain(() => startServiceProcess({ service: 'dispatcher', modules: [DispatcherServiceModule] }));
