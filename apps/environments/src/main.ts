import 'reflect-metadata';
import { EnvironmentsServiceModule } from '@schedstack/environments-service';
import { runMain, startServiceProcess } from '@schedstack/runtime';

/** The environments service as its own process (SPEC §1 distributed profile). */
runMain(() => startServiceProcess({ service: 'environments', modules: [EnvironmentsServiceModule] }));
