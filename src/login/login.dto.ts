import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

/** Body of a username/password login route. Use with Nest's ValidationPipe. */
export class LoginDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(150)
  username: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(1024)
  password: string;

  /**
   * OpenAPI metadata in the form the @nestjs/swagger CLI plugin writes: swagger
   * reads it when it is installed, and nothing here imports it, so an app
   * without @nestjs/swagger compiles and runs.
   */
  static _OPENAPI_METADATA_FACTORY() {
    return {
      username: { required: true, type: () => String, minLength: 1, maxLength: 150, example: 'ada' },
      password: { required: true, type: () => String, minLength: 1, maxLength: 1024, format: 'password', example: 'correct horse battery staple' },
    };
  }
}
