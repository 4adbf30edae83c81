import 'reflect-metadata';
import { SchedulesServiceModule } from '@schedstack/schedules-service';
import { runMain, startServiceProcess } from '@schedstack/runtime';

/** The schedules service as its own process (SPEC §1 distributed profile). */
runMain(() => startServiceProcess({ service: 'schedules', modules: [SchedulesServiceModule] }));
