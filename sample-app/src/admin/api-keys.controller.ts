import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiKeyService, SuperuserOnly } from '@democrai/nest-auth';
import { Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsDate, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

class CreateApiKeyDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(150)
  name: string;

  @IsArray()
  @ArrayNotEmpty()
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  permissions: string[];

  @IsOptional()
  @Type(() => Date)
  @IsDate()
  expiresAt?: Date;
}

/** Key management: superusers only. The key itself is shown once, in the answer to POST. */
@SuperuserOnly()
@Controller('admin/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  create(@Body() body: CreateApiKeyDto) {
    return this.keys.create(body);
  }

  @Get()
  list() {
    return this.keys.list();
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id') id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
