import { Controller, Get } from '@nestjs/common';
import { StaffOnly, SuperuserOnly } from '@democrai/nest-auth';

@Controller()
export class AdminController {
  @SuperuserOnly()
  @Get('admin/stats')
  stats() {
    return { uptimeSeconds: Math.round(process.uptime()) };
  }

  @StaffOnly()
  @Get('staff/report')
  report() {
    return { report: 'all quiet' };
  }
}
