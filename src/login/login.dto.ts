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
}
