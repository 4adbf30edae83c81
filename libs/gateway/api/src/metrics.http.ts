import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { register } from 'prom-client';

/**
 * SPEC §7/§9 `GET /metrics` (no `/v1`): prom-client's default registry of this process. In the
 * local profile that includes the dispatcher's `schedstack_dispatch_lag_seconds`; in the
 * distributed profile each dispatcher process serves its own on METRICS_PORT.
 */
@Controller()
export class MetricsHttpController {
  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', register.contentType);
    res.send(await register.metrics());
  }
}
